/* libsnapref: the reference snapshot save/load library of snapcheck. Umbrella header. */
#ifndef SNAP_SNAP_H
#define SNAP_SNAP_H

#include "crc64.h"
#include "envelope.h"
#include "error.h"
#include "io.h"
#include "pair.h"
#include "state.h"

#endif
