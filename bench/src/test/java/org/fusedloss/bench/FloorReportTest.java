package org.fusedloss.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.fusedloss.bench.FloorReport.CellResult;
import org.fusedloss.bench.FloorReport.Row;
import org.junit.jupiter.api.Test;

/** How FloorReport folds a cell's rounds into the figures it reports and judges. */
class FloorReportTest {

    /** A CE round whose larger floor is its copy time (no streaming gain, no compute floor measured). */
    private static Row round(double ms, double copyMs, double weightedRatio) {
        return new Row("CrossEntropy", "4096x1000", "avx2", 1, ms, ms / weightedRatio, weightedRatio, copyMs,
                Double.NaN, Double.NaN);
    }

    @Test
    void xFloorIsTheMedianOfTheRoundsOwnRatiosNotTheRatioOfTheMedians() {
        // x floor per round: 1.0, 2.0, 1.25; the medians' ratio would be 12 / 10 = 1.2
        CellResult cell = CellResult.of(List.of(round(10, 10, 1.01), round(12, 6, 1.04), round(20, 16, 0.98)));
        assertEquals(1.25, cell.xFloor(), 1e-12);
        assertEquals(1.0, cell.minXFloor(), 1e-12);
        assertEquals(2.0, cell.maxXFloor(), 1e-12);
        assertEquals(3, cell.rounds());
        // every other figure is its own median
        assertEquals(12, cell.median().ms(), 1e-12);
        assertEquals(10, cell.median().copyMs(), 1e-12);
        assertEquals(1.01, cell.median().weightedRatio(), 1e-12);
        assertEquals(12 / 1.04, cell.median().unweightedMs(), 1e-12);
    }

    @Test
    void anEvenCountTakesTheMeanOfTheMiddleTwo() {
        // x floor per round: 1.0, 2.0, 1.25, 1.8, median 1.525 (a MISS); the medians' 11 / 8 = 1.375 would MET
        CellResult cell = CellResult.of(List.of(round(10, 10, 1), round(12, 6, 1), round(20, 16, 1), round(9, 5, 1)));
        assertEquals(1.525, cell.xFloor(), 1e-12);
        assertEquals(1.0, cell.minXFloor(), 1e-12);
        assertEquals(2.0, cell.maxXFloor(), 1e-12);
        assertEquals(11, cell.median().ms(), 1e-12);
        assertEquals(8, cell.median().copyMs(), 1e-12);
    }

    @Test
    void eachRoundIsJudgedAgainstItsOwnCopyAndTheLeastComputeFloor() {
        // the compute floor is the least of the rounds' (7): round 1 compute-bound (10 / 7), round 2
        // bandwidth-bound (12 / 9: the element-wise copy counts 4 / 3, and 9 > 7), round 3
        // compute-bound (9 / 7), though its own measurement (10) would have made it 9 / 10
        Row a = new Row("MeanSquaredError", "65536x100", "avx512", 2, 10, 10, 1, 3, Double.NaN, 8);
        Row b = new Row("MeanSquaredError", "65536x100", "avx512", 2, 12, 12, 1, 6.75, Double.NaN, 7);
        Row c = new Row("MeanSquaredError", "65536x100", "avx512", 2, 9, 9, 1, 3, Double.NaN, 10);
        CellResult cell = CellResult.of(List.of(a, b, c));
        assertEquals(12.0 / 9, cell.xFloor(), 1e-12);
        assertEquals(9.0 / 7, cell.minXFloor(), 1e-12);
        assertEquals(10.0 / 7, cell.maxXFloor(), 1e-12);
        assertEquals(7, cell.median().computeFloorMs(), 0);
    }

    @Test
    void aComputeFloorMeasuredOnASharedCpuDoesNotFlatterItsRound() {
        // round 1's floor measured 1.4x slow (the CPU shared): against it the round would read
        // 0.55 / 0.52 = 1.06; against the least floor, 0.55 / 0.37
        Row a = new Row("CrossEntropy", "65536x10", "avx2", 1, 0.55, 0.54, 1.02, 0.05, 1, 0.52);
        Row b = new Row("CrossEntropy", "65536x10", "avx2", 1, 0.55, 0.54, 1.02, 0.05, 1, 0.37);
        Row c = new Row("CrossEntropy", "65536x10", "avx2", 1, 0.56, 0.55, 1.02, 0.05, 1, 0.38);
        CellResult cell = CellResult.of(List.of(a, b, c));
        assertEquals(0.55 / 0.37, cell.xFloor(), 1e-12);
        assertEquals(0.55 / 0.37, cell.minXFloor(), 1e-12);
        assertEquals(0.56 / 0.37, cell.maxXFloor(), 1e-12);
    }

    @Test
    void theStreamingGainIsTheMedianOfTheRounds() {
        Row a = new Row("CrossEntropy", "1024x128256", "avx512", 1, 50, 50, 1, 48, 0.60, 30);
        Row b = new Row("CrossEntropy", "1024x128256", "avx512", 1, 51, 51, 1, 49, 0.70, 29);
        Row c = new Row("CrossEntropy", "1024x128256", "avx512", 1, 49, 49, 1, 47, 0.65, 31);
        CellResult cell = CellResult.of(List.of(a, b, c));
        assertEquals(0.65, cell.median().streamGain(), 0);
        assertEquals(29, cell.median().computeFloorMs(), 0);
        // round ratios, each over its own copy (times its streaming gain) or the least compute
        // floor (29), the larger: 50 / 29 (copy 48 x 0.60 = 28.8 < 29), 51 / 34.3 (49 x 0.70 > 29),
        // 49 / 30.55 (47 x 0.65 > 29); their median is 49 / 30.55
        assertEquals(49 / 30.55, cell.xFloor(), 1e-12);
        assertEquals(51 / 34.3, cell.minXFloor(), 1e-12);
        assertEquals(50.0 / 29, cell.maxXFloor(), 1e-12);
    }

    @Test
    void oneRoundIsThatRound() {
        Row r = new Row("SoftmaxFocal", "1024x128256", "avx512", 2, 41.5, 40.9, 1.015, 52.9, 0.72, 20.1);
        CellResult cell = CellResult.of(List.of(r));
        assertEquals(r, cell.median());
        assertEquals(r.xFloor(), cell.xFloor(), 0);
        assertEquals(r.xFloor(), cell.minXFloor(), 0);
        assertEquals(r.xFloor(), cell.maxXFloor(), 0);
        assertEquals(1, cell.rounds());
    }
}
