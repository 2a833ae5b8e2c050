#include "ultraface_config.h"

#include "cfg_ultraface.h" /* ultraface_config: written by `ultrapost codegen --host --name ultraface ...` */

const up_config_t *ultraface_config_get(void)
{
    return &ultraface_config;
}
