"""From switch facts to device records: pure code in view/tracker/records, I/O in store/stage."""
