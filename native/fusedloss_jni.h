/*
 * fusedloss_jni.h: the JNI side of the JavaCPP binding (NativeKernels); only its generated glue
 * includes this. Every pointer argument arrives as a pair: a heap array the glue pinned with
 * GetPrimitiveArrayCritical plus an element offset into it, or NULL plus the address of a direct
 * buffer (taken by a separate call before). The glue then makes no JNI call but nested critical
 * ones while arrays are pinned, as the JNI rules require (a FloatBuffer parameter would make it
 * call Buffer.array() there). The loss's small vectors (class weights, alpha, pos_weight) and
 * the result come as addresses of direct memory (0: none), so a call on direct buffers pins nothing.
 */
#ifndef FUSEDLOSS_JNI_H
#define FUSEDLOSS_JNI_H

#include <stdint.h>

#include "fusedloss.h"

template <class T>
inline T* fl_jni_at(T* array, int64_t offset_or_address) {
    return array ? array + offset_or_address : reinterpret_cast<T*>(offset_or_address);
}

template <class T>
inline T* fl_jni_ptr(int64_t address) {
    return reinterpret_cast<T*>(address);
}

inline int64_t fl_jni_address_f(const float* direct) { return (int64_t)direct; }
inline int64_t fl_jni_address_i(const int32_t* direct) { return (int64_t)direct; }

inline int fl_jni_cross_entropy(int64_t n, int64_t c, float* x, int64_t x_at, int32_t* y, int64_t y_at,
                                float* t, int64_t t_at, int32_t ignore_index, int64_t class_weights,
                                float* sw, int64_t sw_at, int64_t sw_stride, float smoothing,
                                float z_loss, float soft_cap, float* up, int64_t up_at, double grad_scale,
                                float* g, int64_t g_at, float* pt, int64_t pt_at, int64_t result) {
    return fl_cross_entropy(n, c, fl_jni_at(x, x_at), fl_jni_at(y, y_at), fl_jni_at(t, t_at), ignore_index,
                            fl_jni_ptr<const float>(class_weights), fl_jni_at(sw, sw_at), sw_stride, smoothing,
                            z_loss, soft_cap, fl_jni_at(up, up_at), grad_scale, fl_jni_at(g, g_at),
                            fl_jni_at(pt, pt_at), fl_jni_ptr<double>(result));
}

inline int fl_jni_softmax_focal(int64_t n, int64_t c, float* x, int64_t x_at, int32_t* y, int64_t y_at,
                                int32_t ignore_index, int64_t alpha, float gamma, float* sw, int64_t sw_at,
                                int64_t sw_stride, float* up, int64_t up_at, double grad_scale, float* g,
                                int64_t g_at, float* pt, int64_t pt_at, int64_t result) {
    return fl_softmax_focal(n, c, fl_jni_at(x, x_at), fl_jni_at(y, y_at), ignore_index,
                            fl_jni_ptr<const float>(alpha), gamma,
                            fl_jni_at(sw, sw_at), sw_stride, fl_jni_at(up, up_at), grad_scale,
                            fl_jni_at(g, g_at), fl_jni_at(pt, pt_at), fl_jni_ptr<double>(result));
}

inline int fl_jni_binary_cross_entropy(int64_t n, int64_t k, float* x, int64_t x_at, float* t, int64_t t_at,
                                       int64_t pos_weight, int64_t binary_class_weights, float* sw,
                                       int64_t sw_at, int64_t sw_stride, float* ew, int64_t ew_at, float* up,
                                       int64_t up_at, double grad_scale, float* g, int64_t g_at, float* pt,
                                       int64_t pt_at, int64_t result) {
    return fl_binary_cross_entropy(n, k, fl_jni_at(x, x_at), fl_jni_at(t, t_at),
                                   fl_jni_ptr<const float>(pos_weight),
                                   fl_jni_ptr<const float>(binary_class_weights), fl_jni_at(sw, sw_at), sw_stride,
                                   fl_jni_at(ew, ew_at),
                                   fl_jni_at(up, up_at), grad_scale, fl_jni_at(g, g_at), fl_jni_at(pt, pt_at),
                                   fl_jni_ptr<double>(result));
}

inline int fl_jni_mean_squared_error(int64_t n, int64_t k, float* x, int64_t x_at, float* t, int64_t t_at,
                                     float* sw, int64_t sw_at, int64_t sw_stride, float* ew, int64_t ew_at,
                                     float* up, int64_t up_at, double grad_scale, float* g, int64_t g_at,
                                     float* pt, int64_t pt_at, int64_t result) {
    return fl_mean_squared_error(n, k, fl_jni_at(x, x_at), fl_jni_at(t, t_at), fl_jni_at(sw, sw_at), sw_stride,
                                 fl_jni_at(ew, ew_at), fl_jni_at(up, up_at), grad_scale, fl_jni_at(g, g_at),
                                 fl_jni_at(pt, pt_at), fl_jni_ptr<double>(result));
}

inline int fl_jni_sigmoid_focal(int64_t n, int64_t k, float* x, int64_t x_at, float* t, int64_t t_at,
                                float alpha, float gamma, float* sw, int64_t sw_at, int64_t sw_stride,
                                float* ew, int64_t ew_at, float* up, int64_t up_at, double grad_scale,
                                float* g, int64_t g_at, float* pt, int64_t pt_at, int64_t result) {
    return fl_sigmoid_focal(n, k, fl_jni_at(x, x_at), fl_jni_at(t, t_at), alpha, gamma, fl_jni_at(sw, sw_at),
                            sw_stride, fl_jni_at(ew, ew_at), fl_jni_at(up, up_at), grad_scale,
                            fl_jni_at(g, g_at), fl_jni_at(pt, pt_at), fl_jni_ptr<double>(result));
}

inline int fl_jni_weight_sums(int64_t n, int64_t c, int32_t* y, int64_t y_at, int32_t ignore_index,
                              int64_t class_weights, float* sw, int64_t sw_at, int64_t sw_stride, float* ew,
                              int64_t ew_at, int64_t result) {
    return fl_weight_sums(n, c, fl_jni_at(y, y_at), ignore_index, fl_jni_ptr<const float>(class_weights),
                          fl_jni_at(sw, sw_at), sw_stride, fl_jni_at(ew, ew_at), fl_jni_ptr<double>(result));
}

#endif /* FUSEDLOSS_JNI_H */
