// The host emulator of the CUDA runtime and of cuBLAS's gemm (cuda_runtime.h, cublas_v2.h
// beside this file say what it covers and what it cannot).
//
// Kernels: a launch runs its blocks one after another (x fastest, then y, z). A block's
// threads are fibers on the calling host thread, run in thread order; one that
// reaches __syncthreads yields, and the barrier opens when every thread of the block is
// waiting at it. Threads that wait at different barriers, or a thread that finishes while
// others wait, are errors (undefined behaviour on a GPU) and fail the launch. Fibers cost
// far more than plain calls, so a kernel's first launch finds out whether it uses
// barriers at all; the kernels that do not are from then on run as plain calls, thread by
// thread (and one that does reach a barrier after all fails its launch, never silently).
//
// A switch between fibers saves the callee-saved registers and swaps stacks (x86-64; other
// machines use ucontext, whose swapcontext also saves the signal mask with a system call:
// with 256 threads per block the same part of the CUDA method test took 4 min 10 s on
// swapcontext and 28 s on this switch).
// AddressSanitizer is told of every stack switch (the fiber API of
// sanitizer/common_interface_defs.h), so it checks kernels on fiber stacks as anywhere.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif
#include <unistd.h>

#include <deque>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "cublas_v2.h"
#include "cuda_runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define MW_EMU_ASAN 1
#else
#define MW_EMU_ASAN 0
#endif

thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;

namespace {

// ---- the sticky launch error, per host thread as in the runtime ----

thread_local cudaError_t last_error = cudaSuccess;
thread_local char last_message[512];

void launch_failed(cudaError_t e, const char *fmt, ...)
{
    if (last_error != cudaSuccess)
        return; // the first error is the one to report
    last_error = e;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
}

// ---- device memory ----
//
// One range of address space, reserved at the first allocation, holds every device
// allocation, each on pages of its own with a page between neighbours. The host cannot
// touch it: the range is PROT_NONE except while the runtime itself works on device memory
// (a kernel, a copy, the gemm), so host code that reads or writes through a device pointer
// faults at that very instruction, as it would with a GPU. Under AddressSanitizer the
// bytes past an allocation's end and freed allocations are poisoned, so a kernel stepping
// out of its buffer is reported as on the heap. Freed pages go back to the system; their
// addresses wait in a quarantine of the last kQuarantine frees before they are handed out
// again (so a stale pointer finds poison, not somebody else's data, for a while), which
// keeps the range, and the cost of each protection change, as small as the live memory.

std::mutex mem_lock;
std::map<uintptr_t, size_t> live; // start -> bytes
size_t live_total;
const size_t kEmulatedMemory = (size_t)16 << 30; // what cudaMemGetInfo reports as total
const size_t kArena = (size_t)256 << 30;         // address space, never memory, reserved
char *arena;
size_t arena_used;    // bytes of the range handed out so far (whole pages)
int arena_open_depth; // > 0 while the runtime works on device memory
const size_t kQuarantine = 64;
std::deque<std::pair<char *, size_t>> quarantine; // freed spans (with their gap page)
std::multimap<size_t, char *> reusable;           // span -> start, out of quarantine

size_t page_size()
{
    static const size_t p = (size_t)sysconf(_SC_PAGESIZE);
    return p;
}

size_t whole_pages(size_t bytes)
{
    return (bytes + page_size() - 1) / page_size() * page_size();
}

bool in_arena(const void *p)
{
    return arena && (const char *)p >= arena && (const char *)p < arena + kArena;
}

void poison(const void *p, size_t bytes)
{
#if MW_EMU_ASAN
    __asan_poison_memory_region(p, bytes);
#else
    (void)p, (void)bytes;
#endif
}

void unpoison(const void *p, size_t bytes)
{
#if MW_EMU_ASAN
    __asan_unpoison_memory_region(p, bytes);
#else
    (void)p, (void)bytes;
#endif
}

// While one lives, device memory is readable and writable (from this host thread's runtime
// calls; the emulator is not meant for concurrent host threads).
struct device_window {
    device_window()
    {
        std::lock_guard<std::mutex> g(mem_lock);
        if (arena_open_depth++ == 0 && arena_used)
            mprotect(arena, arena_used, PROT_READ | PROT_WRITE);
    }
    ~device_window()
    {
        std::lock_guard<std::mutex> g(mem_lock);
        if (--arena_open_depth == 0 && arena_used)
            mprotect(arena, arena_used, PROT_NONE);
    }
    device_window(const device_window &) = delete;
    device_window &operator=(const device_window &) = delete;
};

cudaError_t device_alloc(void **p, size_t bytes)
{
    if (!p)
        return cudaErrorInvalidValue;
    *p = NULL;
    if (bytes == 0)
        return cudaSuccess;
    std::lock_guard<std::mutex> g(mem_lock);
    if (bytes > kEmulatedMemory - live_total)
        return cudaErrorMemoryAllocation;
    if (!arena) {
        void *m = mmap(NULL, kArena, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
                       0);
        if (m == MAP_FAILED)
            return cudaErrorMemoryAllocation;
        arena = static_cast<char *>(m);
    }
    const size_t pages = whole_pages(bytes);
    const size_t span = pages + page_size(); // with the gap page after it
    char *q;
    auto fit = reusable.lower_bound(span);
    if (fit != reusable.end()) {
        q = fit->second;
        if (fit->first > span) // the rest stays reusable
            reusable.emplace(fit->first - span, q + span);
        reusable.erase(fit);
    } else {
        if (span > kArena - arena_used)
            return cudaErrorMemoryAllocation;
        q = arena + arena_used;
        arena_used += span;
        if (arena_open_depth)
            mprotect(q, span, PROT_READ | PROT_WRITE);
    }
    unpoison(q, bytes);
    poison(q + bytes, span - bytes);
    /* fresh device memory is not zero on a GPU: every byte 0xFF, a NaN in float and double
     * (and -1 in an integer), so that reading what was never written shows */
    mprotect(q, pages, PROT_READ | PROT_WRITE);
    memset(q, 0xFF, bytes);
    if (!arena_open_depth)
        mprotect(q, pages, PROT_NONE);
    live[(uintptr_t)q] = bytes;
    live_total += bytes;
    *p = q;
    return cudaSuccess;
}

cudaError_t device_free(void *p)
{
    if (!p)
        return cudaSuccess;
    std::lock_guard<std::mutex> g(mem_lock);
    auto it = live.find((uintptr_t)p);
    if (it == live.end())
        return cudaErrorInvalidValue; // not a device allocation, or freed twice
    const size_t bytes = it->second;
    const size_t pages = whole_pages(bytes);
    poison(p, pages);
    madvise(p, pages, MADV_DONTNEED); // the memory goes back to the system
    quarantine.emplace_back(static_cast<char *>(p), pages + page_size());
    if (quarantine.size() > kQuarantine) {
        reusable.emplace(quarantine.front().second, quarantine.front().first);
        quarantine.pop_front();
    }
    live_total -= bytes;
    live.erase(it);
    return cudaSuccess;
}

bool in_device(const void *p, size_t bytes)
{
    if (bytes == 0)
        return true;
    std::lock_guard<std::mutex> g(mem_lock);
    uintptr_t a = (uintptr_t)p;
    auto it = live.upper_bound(a);
    if (it == live.begin())
        return false;
    --it;
    return a >= it->first && a - it->first <= it->second && bytes <= it->second - (a - it->first);
}

cudaError_t copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    if (bytes == 0)
        return cudaSuccess;
    if (!dst || !src)
        return cudaErrorInvalidValue;
    bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind == cudaMemcpyDefault)
        dst_dev = in_device(dst, bytes), src_dev = in_device(src, bytes);
    if ((dst_dev && !in_device(dst, bytes)) || (src_dev && !in_device(src, bytes)) ||
        (!dst_dev && in_arena(dst)) || (!src_dev && in_arena(src)))
        return cudaErrorInvalidValue; // a pointer on the wrong side for this kind of copy
    device_window w;
    memmove(dst, src, bytes);
    return cudaSuccess;
}

// ---- fibers: the threads of one block ----

#if defined(__x86_64__)
// mw_emu_switch(save, to): push the callee-saved registers and the floating-point control
// words, store the stack pointer in *save, load `to`, pop the same from there, return.
extern "C" void mw_emu_switch(void **save, void *to);
asm(R"(
    .text
    .globl mw_emu_switch
    .hidden mw_emu_switch
    .type mw_emu_switch, @function
mw_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size mw_emu_switch, .-mw_emu_switch
    .section .note.GNU-stack,"",@progbits
    .text
)");

struct context {
    void *sp;
};

// A fresh context that starts entry (which never returns) on stack .. stack + size.
void context_make(context *c, char *stack, size_t size, void (*entry)())
{
    uintptr_t top = ((uintptr_t)(stack + size)) & ~(uintptr_t)15;
    void **p = reinterpret_cast<void **>(top);
    *--p = nullptr;                          // entry's return address: it never returns
    *--p = reinterpret_cast<void *>(entry); // where mw_emu_switch's ret goes
    for (int r = 0; r < 6; r++)
        *--p = nullptr; // rbp, rbx, r12..r15
    uint32_t control[2] = {0, 0};
    asm volatile("stmxcsr %0" : "=m"(control[0]));
    asm volatile("fnstcw %0" : "=m"(control[1]));
    memcpy(--p, control, sizeof control);
    c->sp = p;
}

void context_switch(context *from, context *to)
{
    mw_emu_switch(&from->sp, to->sp);
}
#else
struct context {
    ucontext_t uc;
};

void context_make(context *c, char *stack, size_t size, void (*entry)())
{
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = stack;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = NULL;
    makecontext(&c->uc, entry, 0);
}

void context_switch(context *from, context *to)
{
    swapcontext(&from->uc, &to->uc);
}
#endif

enum fiber_state { READY, AT_BARRIER, DONE };

const size_t kStack = (size_t)256 << 10;

struct fiber {
    context ctx;
    char *stack; // kStack bytes above one guard page
    fiber_state state;
    const char *barrier_file; // where it waits: the __syncthreads in the source
    int barrier_line;
    void *fake;    // AddressSanitizer's fake stack, across a switch
};

struct scheduler {
    std::vector<fiber> fibers;
    context home;
    void *home_fake = nullptr;
    const void *home_bottom = nullptr;
    size_t home_size = 0;
    unsigned current = 0;
    bool on_fibers = false; // false: threads run as plain calls
    unsigned long barriers = 0;
    void (*body)(void *) = nullptr;
    void *arg = nullptr;
    const char *kernel = "";

    ~scheduler()
    {
        for (fiber &f : fibers)
            munmap(f.stack - page_size(), kStack + page_size());
    }
};

thread_local scheduler sched;

void switch_start(void **fake, const void *bottom, size_t size)
{
#if MW_EMU_ASAN
    __sanitizer_start_switch_fiber(fake, bottom, size);
#else
    (void)fake, (void)bottom, (void)size;
#endif
}

void switch_finish(void *fake, const void **bottom, size_t *size)
{
#if MW_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, bottom, size);
#else
    (void)fake, (void)bottom, (void)size;
#endif
}

void fiber_main()
{
    scheduler &s = sched;
    switch_finish(nullptr, &s.home_bottom, &s.home_size);
    s.body(s.arg);
    fiber &f = s.fibers[s.current];
    f.state = DONE;
    switch_start(nullptr, s.home_bottom, s.home_size); // this fiber's stack is done with
    context_switch(&f.ctx, &s.home);
    abort(); // never resumed: the next block makes the fiber afresh
}

bool grow_fibers(unsigned n)
{
    scheduler &s = sched;
    const size_t page = page_size();
    while (s.fibers.size() < n) {
        void *m = mmap(NULL, kStack + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (m == MAP_FAILED)
            return false;
        mprotect(m, page, PROT_NONE); // an overflowing fiber faults instead of corrupting
        fiber f;
        memset(&f, 0, sizeof f);
        f.stack = static_cast<char *>(m) + page;
        s.fibers.push_back(f);
    }
    return true;
}

uint3 thread_of(unsigned t, dim3 block)
{
    if (block.y == 1 && block.z == 1) // every launch of the backend: no divisions
        return uint3{t, 0, 0};
    return uint3{t % block.x, t / block.x % block.y, t / (block.x * block.y)};
}

// ---- the order threads run in: shuffled, seeded ----

// A GPU gives no order among a block's threads between barriers, nor among blocks: the
// emulator runs them in an order drawn anew for every block and every stretch between
// barriers, so that a kernel that relies on an order shows it. Seeded by MW_EMU_SEED (a
// number; default fixed), so a failing run can be run again the same way.
thread_local uint64_t order_state = 0;

uint64_t order_next()
{
    if (order_state == 0) {
        const char *e = getenv("MW_EMU_SEED");
        order_state = e && *e ? strtoull(e, NULL, 0) | 1 : 0x9e3779b97f4a7c15ull;
    }
    uint64_t z = (order_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// order[0..n) a fresh permutation of 0..n-1 (Fisher-Yates).
void shuffle(std::vector<unsigned> &order, unsigned n)
{
    order.resize(n);
    for (unsigned i = 0; i < n; i++)
        order[i] = i;
    for (unsigned i = n; i > 1; i--) {
        const unsigned j = (unsigned)(order_next() % i);
        const unsigned t = order[i - 1];
        order[i - 1] = order[j], order[j] = t;
    }
}

void run_block_fibers(unsigned n)
{
    scheduler &s = sched;
    thread_local std::vector<unsigned> order;
    for (unsigned t = 0; t < n; t++) {
        fiber &f = s.fibers[t];
        context_make(&f.ctx, f.stack, kStack, fiber_main);
        f.state = READY;
        f.barrier_file = nullptr, f.barrier_line = 0;
    }
    for (;;) {
        unsigned waiting = 0, finished_now = 0;
        const char *where_file = nullptr;
        int where_line = 0;
        bool apart = false;
        shuffle(order, n);
        for (unsigned k = 0; k < n; k++) {
            const unsigned t = order[k];
            fiber &f = s.fibers[t];
            if (f.state != READY)
                continue;
            s.current = t;
            threadIdx = thread_of(t, blockDim);
            switch_start(&s.home_fake, f.stack, kStack);
            context_switch(&s.home, &f.ctx);
            switch_finish(s.home_fake, nullptr, nullptr);
            if (f.state == DONE) {
                finished_now++;
                continue;
            }
            if (waiting++ == 0)
                where_file = f.barrier_file, where_line = f.barrier_line;
            else if (f.barrier_line != where_line || strcmp(f.barrier_file, where_file) != 0)
                apart = true;
        }
        if (waiting == 0)
            return;
        if (apart)
            launch_failed(cudaErrorLaunchFailure,
                          "emulator: kernel %s, block (%u,%u,%u): threads wait at different "
                          "__syncthreads",
                          s.kernel, blockIdx.x, blockIdx.y, blockIdx.z);
        else if (finished_now)
            launch_failed(cudaErrorLaunchFailure,
                          "emulator: kernel %s, block (%u,%u,%u): %u threads wait at "
                          "__syncthreads that %u others finished without reaching",
                          s.kernel, blockIdx.x, blockIdx.y, blockIdx.z, waiting, finished_now);
        for (unsigned t = 0; t < n; t++)
            if (s.fibers[t].state == AT_BARRIER)
                s.fibers[t].state = READY; // open the barrier (after an error too: no hang)
    }
}

std::mutex kernels_lock;
std::unordered_map<uintptr_t, bool> uses_barriers; // by kernel, once it has run

} // namespace

void mw_emu_syncthreads(const char *file, int line)
{
    scheduler &s = sched;
    if (!s.on_fibers) {
        launch_failed(cudaErrorLaunchFailure,
                      "emulator: kernel %s reached __syncthreads in a launch run without "
                      "fibers (its first launch reached none)",
                      s.kernel);
        return;
    }
    s.barriers++;
    fiber &f = s.fibers[s.current];
    f.state = AT_BARRIER;
    f.barrier_file = file, f.barrier_line = line;
    switch_start(&f.fake, s.home_bottom, s.home_size);
    context_switch(&f.ctx, &s.home);
    switch_finish(f.fake, &s.home_bottom, &s.home_size);
}

namespace mw_emu {

void run(uintptr_t kernel, const char *name, dim3 grid, dim3 block, void (*body)(void *),
         void *arg)
{
    // The hardware's limits (compute capability 9.0).
    unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 ||
        grid.z == 0 || grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
        launch_failed(cudaErrorInvalidConfiguration,
                      "emulator: kernel %s launched with grid (%u,%u,%u), block (%u,%u,%u)", name,
                      grid.x, grid.y, grid.z, block.x, block.y, block.z);
        return;
    }
    bool known, barriers = true;
    {
        std::lock_guard<std::mutex> g(kernels_lock);
        auto it = uses_barriers.find(kernel);
        known = it != uses_barriers.end();
        if (known)
            barriers = it->second;
    }
    scheduler &s = sched;
    s.on_fibers = barriers; // an unknown kernel runs on fibers, to find out
    if (s.on_fibers && !grow_fibers((unsigned)threads)) {
        launch_failed(cudaErrorMemoryAllocation, "emulator: no memory for %llu fiber stacks",
                      threads);
        return;
    }
    s.body = body, s.arg = arg, s.kernel = name, s.barriers = 0;
    gridDim = grid, blockDim = block;
    device_window w;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                blockIdx = uint3{x, y, z};
                if (s.on_fibers) {
                    run_block_fibers((unsigned)threads);
                    continue;
                }
                thread_local std::vector<unsigned> order;
                shuffle(order, (unsigned)threads);
                for (unsigned k = 0; k < threads; k++) {
                    threadIdx = thread_of(order[k], block);
                    body(arg);
                }
            }
    if (!known) {
        std::lock_guard<std::mutex> g(kernels_lock);
        uses_barriers[kernel] = s.barriers > 0;
    }
    s.on_fibers = false;
}

bool is_host_pointer(const void *p)
{
    return p && !in_arena(p);
}

void host_pointer_argument(const char *name, int index)
{
    // On a GPU the kernel would fault on the address: an illegal address.
    launch_failed(cudaErrorIllegalAddress, "emulator: kernel %s: argument %d is a host pointer",
                  name, index + 1);
}

} // namespace mw_emu

// ---- the runtime API ----

// The emulated devices: one, or MW_EMU_DEVICES (1..16) for the tests of a choice of device
// (MPI ranks take their node-local rank's); every device is the same host. MW_EMU_DEVICE_LOG
// names a file that each cudaSetDevice appends its device to, a line each.
static int emu_devices()
{
    const char *v = getenv("MW_EMU_DEVICES");
    const int n = v ? atoi(v) : 1;
    return n >= 1 && n <= 16 ? n : 1;
}

cudaError_t cudaGetDeviceCount(int *count)
{
    *count = emu_devices();
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device)
{
    if (device < 0 || device >= emu_devices())
        return cudaErrorInvalidDevice;
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "host emulator (no GPU)");
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *version)
{
    *version = 0;
    return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *version)
{
    *version = CUDART_VERSION;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device)
{
    if (device < 0 || device >= emu_devices())
        return cudaErrorInvalidDevice;
    const char *log = getenv("MW_EMU_DEVICE_LOG");
    if (log && *log) {
        FILE *f = fopen(log, "a");
        if (f) {
            fprintf(f, "%d\n", device);
            fclose(f);
        }
    }
    return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags)
{
    (void)flags;
    static char token;
    *stream = reinterpret_cast<cudaStream_t>(&token);
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream)
{
    (void)stream;
    return cudaSuccess;
}

// Kernels ran to completion at launch; a launch error surfaces here as on a GPU (where an
// asynchronous fault is reported by the next synchronising call), and stays sticky.
cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
    (void)stream;
    return last_error;
}

// As the runtime does once a kernel has faulted: the sticky error, before anything else.
cudaError_t cudaMalloc(void **p, size_t bytes)
{
    if (last_error == cudaErrorIllegalAddress || last_error == cudaErrorLaunchFailure) {
        if (p)
            *p = NULL;
        return last_error;
    }
    return device_alloc(p, bytes);
}

cudaError_t cudaFree(void *p)
{
    return device_free(p);
}

cudaError_t cudaMallocAsync(void **p, size_t bytes, cudaStream_t stream)
{
    (void)stream;
    return cudaMalloc(p, bytes); // the same checks, the sticky error first
}

cudaError_t cudaFreeAsync(void *p, cudaStream_t stream)
{
    (void)stream;
    return device_free(p);
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    return last_error != cudaSuccess ? last_error : copy(dst, src, bytes, kind);
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream)
{
    (void)stream;
    return copy(dst, src, bytes, kind);
}

cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t *pool, int device)
{
    static int the_pool;
    if (!pool || device < 0 || device >= emu_devices())
        return cudaErrorInvalidValue;
    *pool = reinterpret_cast<cudaMemPool_t>(&the_pool);
    return last_error;
}

cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void *value)
{
    if (!pool || !value || attr != cudaMemPoolAttrReleaseThreshold)
        return cudaErrorInvalidValue;
    return last_error;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes)
{
    std::lock_guard<std::mutex> g(mem_lock);
    *free_bytes = kEmulatedMemory - live_total;
    *total_bytes = kEmulatedMemory;
    return cudaSuccess;
}

cudaError_t cudaGetLastError(void)
{
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

const char *cudaGetErrorName(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorStubLibrary: return "cudaErrorStubLibrary";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    }
    return "cudaErrorUnknown";
}

// A launch error's text names the kernel and what went wrong (the last one recorded).
const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorStubLibrary: return "CUDA driver is a stub library";
    case cudaErrorInsufficientDriver:
        return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidConfiguration:
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure: return last_message[0] ? last_message : "launch failure";
    }
    return "unknown error";
}

// ---- cuBLAS ----

struct cublasContext {
    cublasMath_t math;
};

cublasStatus_t cublasCreate(cublasHandle_t *handle)
{
    *handle = new (std::nothrow) cublasContext{CUBLAS_DEFAULT_MATH};
    return *handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle)
{
    if (!handle)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream)
{
    (void)stream;
    return handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
    if (!handle)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode < CUBLAS_DEFAULT_MATH || mode > CUBLAS_TF32_TENSOR_OP_MATH)
        return CUBLAS_STATUS_INVALID_VALUE;
    handle->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusName(cublasStatus_t status)
{
    switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

const char *cublasGetStatusString(cublasStatus_t status)
{
    switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    }
    return "unknown error";
}

namespace {

float to_tf32(float x)
{
    if (!isfinite(x))
        return x;
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u = (u + 0x1000u) & ~0x1fffu; // keep 10 of the 23 fraction bits, ties away from zero
    memcpy(&x, &u, sizeof u);
    return x;
}

template <typename R> R tf32_if(R x, bool tf32)
{
    (void)tf32; // TF32 is a float32 mode
    return x;
}
template <> float tf32_if<float>(float x, bool tf32)
{
    return tf32 ? to_tf32(x) : x;
}

// C_i = alpha op(A_i) op(B_i) + beta C_i, column-major, C_i m x n; beta = 0 ignores C.
// Each element is one dot product in k order with fused multiply-adds, as a GPU thread
// accumulates its tile (cuBLAS's split of k among threads is not reproduced).
template <typename R>
cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                    int k, const R *alpha, const R *A, int lda, long long sA, const R *B, int ldb,
                    long long sB, const R *beta, R *C, int ldc, long long sC, int count)
{
    if (!h)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    auto valid_op = [](cublasOperation_t op) { return op >= CUBLAS_OP_N && op <= CUBLAS_OP_C; };
    const int arows = ta == CUBLAS_OP_N ? m : k, acols = ta == CUBLAS_OP_N ? k : m;
    const int brows = tb == CUBLAS_OP_N ? k : n, bcols = tb == CUBLAS_OP_N ? n : k;
    if (m < 0 || n < 0 || k < 0 || count < 0 || !valid_op(ta) || !valid_op(tb) || !alpha ||
        !beta || lda < (arows > 1 ? arows : 1) || ldb < (brows > 1 ? brows : 1) ||
        ldc < (m > 1 ? m : 1))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0 || count == 0)
        return CUBLAS_STATUS_SUCCESS;
    const bool tf32 = h->math == CUBLAS_TF32_TENSOR_OP_MATH;
    device_window w;
    const bool use_ab = k > 0 && *alpha != R(0);
    // Every operand of every batch inside one device allocation, before anything is
    // written (the extent of a column-major matrix ends at its last column's rows).
    const size_t a_bytes = ((size_t)(acols - 1) * lda + arows) * sizeof(R);
    const size_t b_bytes = ((size_t)(bcols - 1) * ldb + brows) * sizeof(R);
    const size_t c_bytes = ((size_t)(n - 1) * ldc + m) * sizeof(R);
    for (int i = 0; i < count; i++)
        if ((use_ab && (!in_device(A + (ptrdiff_t)sA * i, a_bytes) ||
                        !in_device(B + (ptrdiff_t)sB * i, b_bytes))) ||
            !in_device(C + (ptrdiff_t)sC * i, c_bytes))
            return CUBLAS_STATUS_INVALID_VALUE;
    for (int i = 0; i < count; i++) {
        const R *a = A + (ptrdiff_t)sA * i, *b = B + (ptrdiff_t)sB * i;
        R *c = C + (ptrdiff_t)sC * i;
        for (int col = 0; col < n; col++)
            for (int row = 0; row < m; row++) {
                R acc = R(0);
                if (use_ab)
                    for (int q = 0; q < k; q++) {
                        R av = ta == CUBLAS_OP_N ? a[(size_t)q * lda + row]
                                                 : a[(size_t)row * lda + q];
                        R bv = tb == CUBLAS_OP_N ? b[(size_t)col * ldb + q]
                                                 : b[(size_t)q * ldb + col];
                        acc = fma(tf32_if(av, tf32), tf32_if(bv, tf32), acc); // FFMA
                    }
                R &out = c[(size_t)col * ldc + row];
                out = *alpha * acc + (*beta == R(0) ? R(0) : *beta * out);
            }
    }
    return CUBLAS_STATUS_SUCCESS;
}

} // namespace

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta,
                                         cublasOperation_t tb, int m, int n, int k,
                                         const float *alpha, const float *A, int lda,
                                         long long sA, const float *B, int ldb, long long sB,
                                         const float *beta, float *C, int ldc, long long sC,
                                         int count)
{
    return gemm<float>(h, ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC,
                       count);
}

cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta,
                                         cublasOperation_t tb, int m, int n, int k,
                                         const double *alpha, const double *A, int lda,
                                         long long sA, const double *B, int ldb, long long sB,
                                         const double *beta, double *C, int ldc, long long sC,
                                         int count)
{
    return gemm<double>(h, ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC,
                        count);
}
