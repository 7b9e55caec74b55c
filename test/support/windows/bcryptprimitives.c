/*
 * Why this exists: Bun's Windows executables import ProcessPrng from bcryptprimitives.dll (the
 * random source of Windows 10 and later), and Wine 8 (Debian 12) has no such export, so they do
 * not even start. This test-only shim gives Wine one, over BCryptGenRandom; test/support/windows/
 * prefix.sh builds it with Debian's mingw-w64 and puts it in the throwaway prefix's system32.
 * It is never shipped: real Windows has the function.
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  return BCryptGenRandom(NULL, data, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0;
}
