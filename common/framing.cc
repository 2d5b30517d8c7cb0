#include "common/framing.h"
