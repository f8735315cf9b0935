/* Placeholder: the Nanos compatibility library (see src/runner/nanos*). */
int ukrun_nanos_compat_version(void) { return 0; }
