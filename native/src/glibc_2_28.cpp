// glibc_2_28.cpp: linked into the JNI library (java/pom.xml pulls it in with
// -Wl,--undefined=__libc_single_threaded) so that the library loads on glibc 2.28 and later (RHEL /
// Rocky 8, Debian 10, Ubuntu 20.04: the baseline of PyTorch's Linux wheels) although it is built on
// a newer glibc, with libstdc++ linked in statically (-static-libstdc++: no GLIBCXX_ / CXXABI_
// dependency on the system's libstdc++).
//
// A few functions got a new symbol version after 2.28 (exp, log, pow in 2.29; the pthread and dl
// functions in 2.34, when libpthread and libdl moved into libc), and the linker binds every call,
// ours and those inside libstdc++.a, to the newest. Each is defined here as a hidden forwarder to
// its original GLIBC_2.2.5 version (which every glibc still provides; the same code, or for exp /
// log / pow the same results with the old errno handling), and a hidden definition wins over
// libc's at link time. glibc symbols with no version up to 2.28 get a local replacement:
// __libc_single_threaded (2.32, read by libstdc++ to skip atomics in a single-threaded process:
// "not single-threaded" is always correct, and a JVM has many threads) and arc4random (2.36, only
// reachable through std::random_device, which the library never uses). native/test/check_glibc.sh
// fails the build when a newer symbol appears anyway.
//
// Compiled with -fno-builtin (native/CMakeLists.txt) so that the compiler keeps these definitions
// as written; nothing here may include <math.h> (its exp / log / pow declarations).
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#define FL_HIDDEN __attribute__((visibility("hidden")))
#define FL_PIN(local, name) __asm__(".symver " #local "," #name "@GLIBC_2.2.5")

extern "C" {

FL_HIDDEN char __libc_single_threaded = 0;

FL_HIDDEN uint32_t arc4random(void) {
    uint32_t v = 0;
    while (getentropy(&v, sizeof v) != 0) {
    }
    return v;
}

double fl_exp_2_2_5(double);
double fl_log_2_2_5(double);
double fl_pow_2_2_5(double, double);
FL_PIN(fl_exp_2_2_5, exp);
FL_PIN(fl_log_2_2_5, log);
FL_PIN(fl_pow_2_2_5, pow);
FL_HIDDEN double exp(double x) { return fl_exp_2_2_5(x); }
FL_HIDDEN double log(double x) { return fl_log_2_2_5(x); }
FL_HIDDEN double pow(double x, double y) { return fl_pow_2_2_5(x, y); }

void* fl_dlopen_2_2_5(const char*, int);
void* fl_dlsym_2_2_5(void*, const char*);
char* fl_dlerror_2_2_5(void);
int fl_dlclose_2_2_5(void*);
FL_PIN(fl_dlopen_2_2_5, dlopen);
FL_PIN(fl_dlsym_2_2_5, dlsym);
FL_PIN(fl_dlerror_2_2_5, dlerror);
FL_PIN(fl_dlclose_2_2_5, dlclose);
FL_HIDDEN void* dlopen(const char* file, int mode) { return fl_dlopen_2_2_5(file, mode); }
FL_HIDDEN void* dlsym(void* handle, const char* name) { return fl_dlsym_2_2_5(handle, name); }
FL_HIDDEN char* dlerror(void) { return fl_dlerror_2_2_5(); }
FL_HIDDEN int dlclose(void* handle) { return fl_dlclose_2_2_5(handle); }

int fl_pthread_create_2_2_5(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
int fl_pthread_join_2_2_5(pthread_t, void**);
int fl_pthread_detach_2_2_5(pthread_t);
int fl_pthread_once_2_2_5(pthread_once_t*, void (*)(void));
int fl_pthread_key_create_2_2_5(pthread_key_t*, void (*)(void*));
int fl_pthread_key_delete_2_2_5(pthread_key_t);
void* fl_pthread_getspecific_2_2_5(pthread_key_t);
int fl_pthread_setspecific_2_2_5(pthread_key_t, const void*);
int fl_pthread_mutex_trylock_2_2_5(pthread_mutex_t*);
FL_PIN(fl_pthread_create_2_2_5, pthread_create);
FL_PIN(fl_pthread_join_2_2_5, pthread_join);
FL_PIN(fl_pthread_detach_2_2_5, pthread_detach);
FL_PIN(fl_pthread_once_2_2_5, pthread_once);
FL_PIN(fl_pthread_key_create_2_2_5, pthread_key_create);
FL_PIN(fl_pthread_key_delete_2_2_5, pthread_key_delete);
FL_PIN(fl_pthread_getspecific_2_2_5, pthread_getspecific);
FL_PIN(fl_pthread_setspecific_2_2_5, pthread_setspecific);
FL_PIN(fl_pthread_mutex_trylock_2_2_5, pthread_mutex_trylock);
FL_HIDDEN int pthread_create(pthread_t* t, const pthread_attr_t* a, void* (*f)(void*), void* arg) {
    return fl_pthread_create_2_2_5(t, a, f, arg);
}
FL_HIDDEN int pthread_join(pthread_t t, void** r) { return fl_pthread_join_2_2_5(t, r); }
FL_HIDDEN int pthread_detach(pthread_t t) { return fl_pthread_detach_2_2_5(t); }
FL_HIDDEN int pthread_once(pthread_once_t* o, void (*f)(void)) { return fl_pthread_once_2_2_5(o, f); }
FL_HIDDEN int pthread_key_create(pthread_key_t* k, void (*d)(void*)) { return fl_pthread_key_create_2_2_5(k, d); }
FL_HIDDEN int pthread_key_delete(pthread_key_t k) { return fl_pthread_key_delete_2_2_5(k); }
FL_HIDDEN void* pthread_getspecific(pthread_key_t k) { return fl_pthread_getspecific_2_2_5(k); }
FL_HIDDEN int pthread_setspecific(pthread_key_t k, const void* v) { return fl_pthread_setspecific_2_2_5(k, v); }
FL_HIDDEN int pthread_mutex_trylock(pthread_mutex_t* m) { return fl_pthread_mutex_trylock_2_2_5(m); }

}  // extern "C"
