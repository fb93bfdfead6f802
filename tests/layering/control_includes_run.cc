// A file the layering check must refuse (Layering.RefusesAForbiddenInclude): checked as though it
// were in daemon/control/, whose part does not link hijack_run. It is never compiled.
#include "daemon/control/control_service.h"
#include "daemon/run/run_command.h"
