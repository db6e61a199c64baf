package org.fusedloss;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.fusedloss.nativecpu.NativeBackend;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.provider.Arguments;

/**
 * The one parameter source of the contract tests ({@link LossContract} and each loss's test):
 * every path a loss can be computed on. {@code java}; {@code native@<isa>} for every instruction
 * set the library has (those this CPU cannot run are listed and skipped, saying so; where the
 * native library does not load, one {@code native} path that fails or skips by
 * {@link TestBackends#require}'s rule); {@code cuda} (host arrays copied) where CUDA is available;
 * and the paths other modules' tests provide ({@link TestPath.Provider}: fusedloss-cuda adds
 * {@code cuda-device}). {@code -Dfusedloss.test.paths=a,b} keeps the paths of those names (a name
 * without {@code @} keeps all its instruction sets).
 */
public final class TestPaths {
    /** The setting that picks paths by name. */
    public static final String PATHS_PROPERTY = "fusedloss.test.paths";

    private TestPaths() {
    }

    /** Every path, best-known first, filtered by {@link #PATHS_PROPERTY}. */
    public static List<TestPath> list() {
        List<TestPath> all = new ArrayList<>();
        all.add(TestPath.direct(Backends.java()));
        all.addAll(nativePaths());
        if (Backends.cuda().isAvailable()) {
            all.add(TestPath.direct(Backends.cuda()));
        }
        for (TestPath.Provider p : ServiceLoader.load(TestPath.Provider.class, TestPaths.class.getClassLoader())) {
            all.addAll(p.paths());
        }
        String wanted = System.getProperty(PATHS_PROPERTY, "").trim();
        if (wanted.isEmpty()) {
            return all;
        }
        List<String> names = Arrays.stream(wanted.split(",")).map(String::trim).toList();
        return all.stream().filter(p -> names.contains(p.name()) || names.contains(p.name().split("@")[0])).toList();
    }

    /** The native backend on each of the library's instruction sets. */
    private static List<TestPath> nativePaths() {
        NativeBackend n = Backends.nativeCpu();
        if (!n.isAvailable()) {
            return List.of(TestPath.direct(n));  // TestBackends.require says why, failing or skipping
        }
        List<TestPath> paths = new ArrayList<>();
        for (String isa : n.isas()) {
            paths.add(new TestPath("native@" + isa, n,
                    () -> n.isaSupported(isa) ? Optional.empty() : Optional.of("this CPU cannot run " + isa),
                    (loss, batch) -> {
                        String before = n.isa();
                        n.setIsa(isa);
                        try {
                            return loss.compute(batch, n);
                        } finally {
                            n.setIsa(before);
                        }
                    }));
        }
        return paths;
    }

    /** Every path, for a test with one parameter. */
    static Stream<Arguments> paths() {
        return list().stream().map(p -> Arguments.of(Named.of(p.name(), p)));
    }

    /** Every path x every reduction. */
    static Stream<Arguments> pathsAndReductions() {
        return list().stream().flatMap(p -> Stream.of(Reduction.values())
                .map(r -> Arguments.of(Named.of(p.name(), p), r)));
    }
}
