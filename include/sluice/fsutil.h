/* fsutil.h - small file-system helpers shared by the engine and plugins. */
#ifndef SLUICE_FSUTIL_H
#define SLUICE_FSUTIL_H

/* Create dir and its missing parents (like mkdir -p).  Returns 0 or -1 with errno. */
int sl_mkdir_p(const char *dir);
/* Create the missing parent directories of the file path. Returns 0 or -1 with errno. */
int sl_mkdir_parent(const char *path);

#endif
