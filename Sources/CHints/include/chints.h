// Processor hints Swift has no spelling for. Header-only: each is a static inline function,
// which the Swift compiler imports and inlines, so a hint costs one instruction.
#ifndef CHINTS_H
#define CHINTS_H

/// Starts fetching the cache line holding `address` for reading, without waiting for it.
/// Loading a large zone probes a name table far larger than the caches at random places;
/// fetching the slots of the next few names while this one is handled overlaps those misses.
static inline void chints_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
