/* api.h — QT_API marks the functions libquintet exports. libquintet is compiled with
 * -fvisibility=hidden (mk/build.mk), so only functions declared QT_API in the public
 * headers in impl/include/quintet/ appear in libquintet.so's dynamic symbol table
 * (check: nm -D --defined-only build/libquintet.so). Everything else (internal kernels,
 * helpers shared between files of impl/) stays private to the library. */
#ifndef QUINTET_API_H
#define QUINTET_API_H

#if defined(__GNUC__) || defined(__clang__)
#define QT_API __attribute__((visibility("default")))
#else
#define QT_API
#endif

#endif
