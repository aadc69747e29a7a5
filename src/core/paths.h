/* Paths the user gives: whether an output would replace one of the job's own inputs. */
#ifndef LVIT_PATHS_H
#define LVIT_PATHS_H

/* 1 when both paths exist and name the same file (the same device and inode: links and "./a" vs
 * "a" included), else 0. An output that does not exist yet clashes with nothing. */
int paths_same_file(const char *a, const char *b);

/* Ends the job with exit 2 when the output OUT (given with FLAG) is the input IN that the job
 * reads (WHAT names it, e.g. "the checkpoint"): writing it would destroy the input. CMD is the
 * command, e.g. "lvit predict". */
void paths_refuse_overwrite(const char *cmd, const char *flag, const char *out, const char *in, const char *what);

#endif
