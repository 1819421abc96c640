// A fixed pool of worker threads for the CPU backend's parallel loops.
//
// threadpool_run() hands one task to every thread (the caller takes part as thread 0)
// and returns when all have finished. Workers spin briefly before sleeping, because a
// decode step issues a few hundred short parallel loops and waking sleeping threads
// each time would cost more than the work.
#pragma once

typedef struct ThreadPool ThreadPool;
typedef void (*ThreadTask)(void *arg, int thread_index, int n_threads);

// N_THREADS counts the caller; 1 means no extra threads. NULL if threads can't start.
ThreadPool *threadpool_new(int n_threads);
void threadpool_free(ThreadPool *pool);
int threadpool_size(const ThreadPool *pool);
void threadpool_run(ThreadPool *pool, ThreadTask task, void *arg);
// The number of online CPU cores.
int threadpool_default_size(void);
