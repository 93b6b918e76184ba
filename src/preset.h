/* preset.h - presets: source configs of public APIs written as YAML data under
 * presets/, expanded into a source mapping before the source is loaded.
 *
 * A preset file is a source-mapping fragment (http block, records, key, ts, every,
 * ...) whose scalars may hold {{params.NAME}} placeholders, plus a `params:` section:
 * NAME: {default: VALUE, doc: "...", required: bool} (or NAME: VALUE for a bare
 * default).  A source `{preset: NAME, params: {...}, KEY: VALUE...}` becomes the
 * preset's mapping with the placeholders replaced by the user's params (or the
 * defaults), the user's other keys merged over it (mappings merged key by key, any
 * other value replaced), and `params:` holding the final values (so runtime
 * templates may still use params.NAME).
 *
 * Search path: every directory of $SLUICE_PRESETS (':'-separated), then ./presets,
 * then <directory of the executable>/../presets. */
#ifndef SLUICE_PRESET_H
#define SLUICE_PRESET_H

#include "sluice/arena.h"
#include "sluice/config.h"

/* Expand the source mapping `source_node` (which has a `preset:` key).  Returns the
 * merged mapping (allocated in arena, which must outlive it; nodes from the preset
 * file carry the preset file's positions), or NULL with diagnostics added (unknown
 * preset with "did you mean", unknown or missing params, unreadable or malformed
 * preset file). */
sl_cnode_t *sl_preset_expand(sl_arena_t *arena, const sl_cnode_t *source_node, sl_diags_t *diags);

/* The path of preset NAME's file (arena), or NULL when no directory of the search path
 * has it. */
const char *sl_preset_find(sl_arena_t *arena, const char *name);

#endif
