/* lr_schedule.c: placeholder until this module lands. */
