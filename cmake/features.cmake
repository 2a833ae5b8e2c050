# The core's compile-time switches (csrc/ultrapost.h, "Compile-time switches"): UP_NO_<feature> leaves the feature
# out; configs that need it are then refused by up_check_config. The Kconfig files offer the same list.
set(ULTRAPOST_FEATURES SOFT_NMS MERGE_NMS KEYPOINTS LABELS BOXES)

# out: the UP_NO_* definitions for every feature whose variable <prefix><feature> is true.
function(ultrapost_feature_definitions out)
    cmake_parse_arguments(ARG "" "PREFIX" "" ${ARGN})
    set(defs)
    foreach(f IN LISTS ULTRAPOST_FEATURES)
        if(${ARG_PREFIX}${f})
            list(APPEND defs UP_NO_${f})
        endif()
    endforeach()
    set(${out} ${defs} PARENT_SCOPE)
endfunction()

# A GNU ld version script exporting exactly the functions declared in the given headers (declarations start a line
# with their return type; the name is the first up_* identifier followed by "(").
function(ultrapost_version_script path)
    set(names)
    foreach(header IN LISTS ARGN)
        file(STRINGS "${header}" lines REGEX "^[A-Za-z][A-Za-z0-9_ ]*[ *]up_[a-z0-9_]+\\(")
        foreach(line IN LISTS lines)
            string(REGEX MATCH "up_[a-z0-9_]+\\(" name "${line}")
            string(REPLACE "(" "" name "${name}")
            list(APPEND names "${name}")
        endforeach()
        set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${header}")
    endforeach()
    list(REMOVE_DUPLICATES names)
    set(body "")
    foreach(name IN LISTS names)
        string(APPEND body "    ${name};\n")
    endforeach()
    file(CONFIGURE OUTPUT "${path}" CONTENT "{\n  global:\n${body}  local: *;\n};\n")
endfunction()
