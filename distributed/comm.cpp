// LocalComm is header-only; this unit anchors the library and the Comm vtable.
#include "distributed/comm.h"
