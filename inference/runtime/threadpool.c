#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

enum { SPIN_ITERATIONS = 20000 };

typedef struct Worker {
    ThreadPool *pool;
    int index;
    pthread_t thread;
} Worker;

struct ThreadPool {
    int n_threads;
    Worker *workers; // [n_threads - 1]
    int n_started;

    // The current task; `generation` is bumped (under `lock`) to publish a new one.
    ThreadTask task;
    void *arg;
    atomic_uint generation;
    atomic_int remaining; // workers still running the current task
    atomic_bool stopping;

    pthread_mutex_t lock;
    pthread_cond_t wake;
};

static void *worker_main(void *data)
{
    Worker *self = data;
    ThreadPool *pool = self->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned gen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        for (int spin = 0; gen == seen && spin < SPIN_ITERATIONS; spin++) {
            cpu_relax();
            gen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        }
        if (gen == seen) {
            pthread_mutex_lock(&pool->lock);
            while ((gen = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->stopping))
                pthread_cond_wait(&pool->wake, &pool->lock);
            pthread_mutex_unlock(&pool->lock);
        }
        if (atomic_load(&pool->stopping))
            return NULL;
        seen = gen;
        pool->task(pool->arg, self->index, pool->n_threads);
        atomic_fetch_sub_explicit(&pool->remaining, 1, memory_order_release);
    }
}

int threadpool_default_size(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

ThreadPool *threadpool_new(int n_threads)
{
    if (n_threads < 1)
        n_threads = 1;
    ThreadPool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->n_threads = n_threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    if (n_threads > 1) {
        pool->workers = calloc((size_t)n_threads - 1, sizeof *pool->workers);
        if (!pool->workers) {
            threadpool_free(pool);
            return NULL;
        }
    }
    for (int i = 1; i < n_threads; i++) {
        Worker *w = &pool->workers[i - 1];
        w->pool = pool;
        w->index = i;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            threadpool_free(pool);
            return NULL;
        }
        pool->n_started++;
    }
    return pool;
}

void threadpool_free(ThreadPool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->stopping, true);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->n_started; i++)
        pthread_join(pool->workers[i].thread, NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    free(pool->workers);
    free(pool);
}

int threadpool_size(const ThreadPool *pool)
{
    return pool->n_threads;
}

void threadpool_run(ThreadPool *pool, ThreadTask task, void *arg)
{
    if (pool->n_threads == 1) {
        task(arg, 0, 1);
        return;
    }
    pool->task = task;
    pool->arg = arg;
    atomic_store(&pool->remaining, pool->n_threads - 1);
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);

    task(arg, 0, pool->n_threads);
    while (atomic_load_explicit(&pool->remaining, memory_order_acquire) > 0)
        cpu_relax();
}
