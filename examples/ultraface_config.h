/* The prepared config of the example's model, made from the generated header (cfg_ultraface.h is C99 with
 * designated initializers, so a C file includes it and hands the config to the C++ side). */
#ifndef ULTRAFACE_CONFIG_H
#define ULTRAFACE_CONFIG_H

#include "ultrapost.h"

#ifdef __cplusplus
extern "C" {
#endif

const up_config_t *ultraface_config_get(void);

#ifdef __cplusplus
}
#endif
#endif
