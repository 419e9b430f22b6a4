/* trainer.c: placeholder until this module lands. */
