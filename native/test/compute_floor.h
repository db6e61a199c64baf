// compute_floor.h: the compute-floor kernels of native_check --floor (compute_floor.cpp), one set
// per instruction set.
#pragma once

enum class FloorLoss { bce, sigmoid_focal, mse };

#define FL_DECLARE_FLOORS(ns)                                                          \
    namespace ns {                                                                     \
    float floor_softmax(float* block, int cols, bool focal);                           \
    float floor_elementwise(FloorLoss loss, const float* x, const float* t, float* g, int n); \
    int floor_lanes();                                                                 \
    }

FL_DECLARE_FLOORS(fl_scalar)
FL_DECLARE_FLOORS(fl_avx2)
FL_DECLARE_FLOORS(fl_avx512)
