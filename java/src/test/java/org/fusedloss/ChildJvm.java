package org.fusedloss;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/** Runs a program in a child JVM (for what needs a JVM setting, an environment or a CPU mask of its own). */
final class ChildJvm {
    private final List<String> prefix = new ArrayList<>();
    private final List<String> options = new ArrayList<>();
    private final Map<String, String> environment = new LinkedHashMap<>();
    private String javaHome = System.getProperty("java.home");

    /** What the child printed (stdout and stderr together) and its exit status. */
    record Result(int exit, String out) {
        /** The value of the first line {@code key=value}, or null. */
        String value(String key) {
            return out.lines().filter(l -> l.startsWith(key + "=")).map(l -> l.substring(key.length() + 1))
                    .findFirst().orElse(null);
        }
    }

    /** The class path of this JVM, less the entries whose path contains one of the given words. */
    static String classPathWithout(String... words) {
        return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(e -> Arrays.stream(words).noneMatch(e::contains))
                .collect(Collectors.joining(File.pathSeparator));
    }

    /** The jar of this JVM's class path whose file name starts with the given word. */
    static Path jar(String name) {
        return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .map(Path::of).filter(p -> p.getFileName().toString().startsWith(name + "-"))
                .findFirst().orElseThrow(() -> new IllegalStateException("no " + name + " jar on the class path"));
    }

    /** The main classes of this module (target/classes). */
    static Path mainClasses() {
        return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator)).map(Path::of)
                .filter(p -> p.endsWith(Path.of("target", "classes"))).findFirst()
                .orElseThrow(() -> new IllegalStateException("no target/classes on the class path"));
    }

    ChildJvm javaHome(String home) {
        this.javaHome = home;
        return this;
    }

    /** A command the JVM runs under, e.g. {@code taskset -c 0}. */
    ChildJvm under(String... command) {
        prefix.addAll(List.of(command));
        return this;
    }

    ChildJvm option(String... jvmOptions) {
        options.addAll(List.of(jvmOptions));
        return this;
    }

    ChildJvm env(String name, String value) {
        environment.put(name, value);
        return this;
    }

    /** Runs {@code java <options> <args>} and waits (at most two minutes). */
    Result run(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(javaHome + File.separator + "bin" + File.separator + "java");
        cmd.addAll(options);
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        // No setting of this JVM's environment leaks into the child unless a test sets it.
        pb.environment().keySet().removeIf(k -> k.startsWith("FUSEDLOSS_"));
        pb.environment().putAll(environment);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("the child JVM did not finish: " + cmd + "\n" + out);
        }
        return new Result(p.exitValue(), out);
    }
}
