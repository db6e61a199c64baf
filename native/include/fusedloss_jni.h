/*
 * fusedloss_jni.h: the JNI side of the JavaCPP binding (NativeKernels); only its generated glue
 * includes this. Java writes the whole fl_request into a per-thread direct buffer and passes its
 * address. A data field holds either a direct buffer's address, or the element offset into a heap
 * array that arrives as an argument: the glue pinned it with GetPrimitiveArrayCritical, and
 * here the offset becomes a pointer into it. The glue then makes no JNI call but nested critical
 * ones while arrays are pinned, as the JNI rules require (a FloatBuffer parameter would make it
 * call Buffer.array() there). The loss's small vectors (class weights, alpha, pos_weight) and the
 * result are in direct memory, so a call on direct buffers pins nothing.
 */
#ifndef FUSEDLOSS_JNI_H
#define FUSEDLOSS_JNI_H

#include <stdint.h>

#include "fusedloss.h"

/* A field as Java wrote it: an offset into the pinned heap array, or (array NULL) an address. */
template <class T, class F>
inline T* fl_jni_at(T* array, F* field) {
    const int64_t offset_or_address = (int64_t)(intptr_t)field;
    return array ? array + offset_or_address : reinterpret_cast<T*>(offset_or_address);
}

inline int64_t fl_jni_address_f(const float* direct) { return (int64_t)direct; }
inline int64_t fl_jni_address_i(const int32_t* direct) { return (int64_t)direct; }

inline int fl_jni_compute(int64_t request, float* x, int32_t* y, float* t, float* sw, float* ew, float* up,
                          float* g, float* pt, int64_t result) {
    fl_request* r = reinterpret_cast<fl_request*>(request);
    r->predictions = fl_jni_at(x, r->predictions);
    r->labels = fl_jni_at(y, r->labels);
    r->targets = fl_jni_at(t, r->targets);
    r->sample_weights = fl_jni_at(sw, r->sample_weights);
    r->element_weights = fl_jni_at(ew, r->element_weights);
    r->upstream = fl_jni_at(up, r->upstream);
    r->gradient = fl_jni_at(g, r->gradient);
    r->per_term = fl_jni_at(pt, r->per_term);
    return fl_compute(r, reinterpret_cast<double*>(result));
}

/* The weight pass reads labels and weights only: the other data fields are not pinned, so NULL. */
inline int fl_jni_weight_sums(int64_t request, int32_t* y, float* sw, float* ew, int64_t result) {
    fl_request* r = reinterpret_cast<fl_request*>(request);
    r->predictions = nullptr;
    r->targets = nullptr;
    r->upstream = nullptr;
    r->gradient = nullptr;
    r->per_term = nullptr;
    r->labels = fl_jni_at(y, r->labels);
    r->sample_weights = fl_jni_at(sw, r->sample_weights);
    r->element_weights = fl_jni_at(ew, r->element_weights);
    return fl_weight_sums(r, reinterpret_cast<double*>(result));
}

#endif /* FUSEDLOSS_JNI_H */
