/*
 * TEST ONLY, never shipped: a stand-in for Windows' bcryptprimitives.dll, which Wine 8 lacks.
 * Rust's std (1.78 and later) and getrandom take random bytes from its ProcessPrng; here it
 * asks RtlGenRandom (advapi32's SystemFunction036), which Wine has. packaging/windows/ci-test.sh
 * builds it with mingw and puts it beside the installed exe for the run under Wine only.
 */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
