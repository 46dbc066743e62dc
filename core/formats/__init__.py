"""The console's date formats (FORMAT_MODULE_PATH): one date and time format, with its zone."""
