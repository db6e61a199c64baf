/*
 * prep.cu: the first launch of every call. Labels and weights that live in device memory cannot
 * be checked by Java without a copy, so this small pass (n labels / weights, or n*k element
 * weights: far less than the predictions) checks them, counts counted and masked terms and sums
 * the effective weights. The MEAN denominator must be known before the main launch writes the
 * gradient, which is why it is a launch of its own and not part of the main kernel.
 */
#include "common.cuh"

using namespace flc;

/* Rows of the softmax losses: one label (or none, dense targets) and one sample weight per row;
 * the per-class vector (class weights or alpha) is validated on the same grid. MEAN weighs a row
 * by its class weight with class indices (FL_CROSS_ENTROPY), by its sample weight otherwise. */
extern "C" __global__ void __launch_bounds__(FLC_PREP_THREADS)
flc_rows_prep(const fl_request request, void* ws) {
    if (!prep_grid_ok(ws)) return;
    const long long n = request.rows, c = request.cols;
    const int* labels = request.loss == FL_CROSS_ENTROPY_DENSE ? nullptr : request.labels;
    const int ignore_index = (int)request.ignore_index;
    const float* class_weights = request.loss == FL_SOFTMAX_FOCAL ? request.options.softmax_focal.alpha
                                                                  : request.options.cross_entropy.class_weights;
    const bool class_weight_in_denominator = request.loss == FL_CROSS_ENTROPY;
    const float* sample_weights = request.sample_weights;
    const long long sample_weight_stride = request.sample_weight_stride;
    Header* h = header(ws);
    double wsum = 0.0, counted = 0.0, masked = 0.0;
    const long long items = n > c ? n : c;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < items; i += stride) {
        if (class_weights && i < c && bad_class_weight(class_weights[i]))
            record_error(h, FLC_ERR_CLASS_WEIGHT, i);
        if (i >= n) continue;
        const float sw = sample_weight(sample_weights, sample_weight_stride, i);
        if (bad_weight(sw)) record_error(h, FLC_ERR_SAMPLE_WEIGHT, i);
        int y = 0;
        if (labels) {
            y = labels[i];
            if (y == ignore_index) continue;          /* ignored: neither counted nor masked */
            if (y < 0 || y >= c) { record_error(h, FLC_ERR_LABEL, i); continue; }
        }
        if (isnan(sw)) { masked += 1.0; continue; }   /* missing weight */
        float w = sw;
        if (class_weight_in_denominator && class_weights && labels) w *= class_weights[y];
        wsum += (double)w;
        counted += 1.0;
    }
    prep_finish(ws, wsum, counted, masked, (int)request.reduction, request.gradient_scale, request.denominator);
}

/* Elements of the element-wise losses: weight = sample_weight[row] * element_weight[row, col].
 * Without element weights one item is one row (k terms). BCE's per-column pos_weight and binary
 * class weights are validated on the same grid. */
extern "C" __global__ void __launch_bounds__(FLC_PREP_THREADS)
flc_elems_prep(const fl_request request, void* ws) {
    if (!prep_grid_ok(ws)) return;
    const long long n = request.rows, k = request.cols;
    const float* sample_weights = request.sample_weights;
    const long long sample_weight_stride = request.sample_weight_stride;
    const float* element_weights = request.element_weights;
    const bool bce = request.loss == FL_BINARY_CROSS_ENTROPY;
    const float* column_weights = bce ? request.options.binary_cross_entropy.pos_weight : nullptr;
    const float* binary_class_weights = bce ? request.options.binary_cross_entropy.binary_class_weights : nullptr;
    Header* h = header(ws);
    double wsum = 0.0, counted = 0.0, masked = 0.0;
    const long long terms = element_weights ? n * k : n;
    long long items = terms > k ? terms : k;
    if (items < 2) items = 2;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < items; i += stride) {
        if (column_weights && i < k && bad_class_weight(column_weights[i]))
            record_error(h, FLC_ERR_POS_WEIGHT, i);
        if (binary_class_weights && i < 2 && bad_class_weight(binary_class_weights[i]))
            record_error(h, FLC_ERR_BINARY_CLASS_WEIGHT, i);
        if (i >= terms || k <= 0) continue;
        if (element_weights) {
            const long long row = i / k;
            const float sw = sample_weight(sample_weights, sample_weight_stride, row);
            if (i - row * k == 0 && bad_weight(sw)) record_error(h, FLC_ERR_SAMPLE_WEIGHT, row);
            const float ew = element_weights[i];
            if (bad_weight(ew)) record_error(h, FLC_ERR_ELEMENT_WEIGHT, i);
            const float w = sw * ew;
            if (isnan(w)) { masked += 1.0; continue; }
            wsum += (double)w;
            counted += 1.0;
        } else {
            const float sw = sample_weight(sample_weights, sample_weight_stride, i);
            if (bad_weight(sw)) record_error(h, FLC_ERR_SAMPLE_WEIGHT, i);
            if (isnan(sw)) { masked += (double)k; continue; }
            wsum += (double)sw * (double)k;
            counted += (double)k;
        }
    }
    prep_finish(ws, wsum, counted, masked, (int)request.reduction, request.gradient_scale, request.denominator);
}
