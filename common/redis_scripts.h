/* redis_scripts.h -- the embedded Lua scripts (generated into jug_lua.c). */
#ifndef JUG_REDIS_SCRIPTS_H
#define JUG_REDIS_SCRIPTS_H

#include "jug_lua.h"

typedef struct jugScriptText {
    const char *name;
    const char *sha;     /* SHA1 hex of source, as EVALSHA wants it */
    const char *source;  /* lib.lua + the script */
} jugScriptText;

/* Indexed by jugScript (jug_lua.h). */
extern const jugScriptText jugScriptTexts[JUG_SCRIPT_COUNT];

#endif
