"""Layer 6/7 — datasets: recipes, sample data, synthetic generators, saved analyses.

Imports layers 1-5 only. The pieces, each in its own module:

    recipe.py      recipes (recipes/*.toml): layouts, options, sources; header detection
    recipe_plan.py recipe keys compiled into the ingest row plan; reasons; explode
    load.py        load_dataset(backend, name, files, ...) -> DatasetLoad (one account per file)
    generators.py  seeded SYNTHETIC files in the real layouts (generate(name, path, rows, seed))
    fetch.py       fetch(recipe, url=..., sha256=...) -> Fetched (cache + checksum)
    analyses.py    the tutorials' analyses as Flux files (analyses/*.flux)
    demo.py        the seed datasets `fluxlab demo` loads
    data/          the real bird-migration sample (line protocol)
"""
