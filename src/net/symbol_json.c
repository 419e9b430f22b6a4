/* symbol_json.c: placeholder until this module lands. */
