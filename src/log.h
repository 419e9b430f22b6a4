/* log.h: leveled logging to stderr (the level is process-wide, set once by the CLI), and
 * the clock the printed timings use. */
#ifndef MX_LOG_H
#define MX_LOG_H

enum mx_log_level { MX_LOG_DEBUG = 0, MX_LOG_INFO, MX_LOG_WARN, MX_LOG_ERROR, MX_LOG_QUIET };

void mx_log_set_level(enum mx_log_level level);
/* The name put in front of each line ("mxtrain" unless set). */
void mx_log_set_program(const char *name);
enum mx_log_level mx_log_get_level(void);
void mx_log(enum mx_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define mx_debug(...) mx_log(MX_LOG_DEBUG, __VA_ARGS__)
#define mx_info(...)  mx_log(MX_LOG_INFO, __VA_ARGS__)
#define mx_warn(...)  mx_log(MX_LOG_WARN, __VA_ARGS__)

/* Seconds on the monotonic clock, for the durations the programs print. */
double mx_now_seconds(void);

#endif
