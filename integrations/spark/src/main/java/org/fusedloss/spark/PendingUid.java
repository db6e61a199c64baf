package org.fusedloss.spark;

/**
 * Hands a stage's uid to its Scala superclass constructor. Spark ML's shared params (featuresCol,
 * labelCol, ...) are created by the Scala superclass's constructor, which asks {@code uid()} for
 * their owner before a Java subclass can assign a field; a param owned by the wrong uid cannot be
 * set. So the constructor parks the uid here first ({@code this(PendingUid.of(uid))}) and
 * {@code uid()} takes it on its first call.
 */
final class PendingUid {
    private static final ThreadLocal<String> PENDING = new ThreadLocal<>();

    private PendingUid() {
    }

    /** Parks {@code uid} for the constructor about to run on this thread. */
    static PendingUid of(String uid) {
        if (uid == null || uid.isEmpty()) {
            throw new IllegalArgumentException("uid is null or empty");
        }
        PENDING.set(uid);
        return new PendingUid();
    }

    /** The parked uid (once). */
    static String take() {
        String uid = PENDING.get();
        PENDING.remove();
        if (uid == null) {
            throw new IllegalStateException("no uid was parked for this stage's constructor");
        }
        return uid;
    }
}
