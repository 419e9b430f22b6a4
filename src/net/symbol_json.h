/* symbol_json.h */
