"""Build the one extension module, casyncio._core, from src/*.c.

CASYNCIO_DEBUG=1 builds (-Og) with assertions and the live-object counters;
CASYNCIO_SANITIZE=1 adds AddressSanitizer and UndefinedBehaviorSanitizer.
Extra flags (CI passes -Werror) come through CFLAGS as usual.  Each kind
of build keeps its objects in its own directory under build/ (build/debug,
build/sanitize-debug, ...): otherwise a release build made after a
sanitizer build of the same tree and Python reuses its objects, which is
how .ci/run's normal 3.12 run once got the sanitizer run's extension.
"""

import glob
import os

from setuptools import Extension, setup

compile_args = ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter",
                "-Wno-missing-field-initializers", "-fno-strict-aliasing"]
link_args = []
macros = []

if os.environ.get("CASYNCIO_DEBUG") == "1":
    macros.append(("CA_DEBUG", "1"))
    compile_args += ["-Og", "-g3", "-UNDEBUG"]
else:
    compile_args += ["-O2"]

if os.environ.get("CASYNCIO_SANITIZE") == "1":
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
           "-fno-sanitize-recover=undefined"]
    compile_args += san + ["-g"]
    link_args += san
    macros.append(("CA_SANITIZE", "1"))

flavour = "-".join(
    name
    for name, env in (("sanitize", "CASYNCIO_SANITIZE"), ("debug", "CASYNCIO_DEBUG"))
    if os.environ.get(env) == "1"
)

setup(
    options={"build": {"build_base": os.path.join("build", flavour or "release")}},
    ext_modules=[
        Extension(
            "casyncio._core",
            sources=sorted(glob.glob("src/*.c")),
            depends=sorted(glob.glob("src/*.h")),
            include_dirs=["src"],
            define_macros=macros,
            extra_compile_args=compile_args,
            extra_link_args=link_args,
        )
    ],
)
