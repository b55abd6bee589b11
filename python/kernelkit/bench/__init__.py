"""``kernelkit bench``: kernelkit against NumPy and every installed peer, with the machine's
ceilings measured in the same run.

The pieces, each replaceable on its own:

- :mod:`.cases`: the case registry (a :class:`~.cases.Case` says its FLOPs and bytes, builds its
  inputs and the calls of kernelkit and of each peer; a :class:`~.cases.Suite` lists cases);
  the suites are :mod:`.suite_conv`, :mod:`.suite_gram`, :mod:`.suite_filter`,
  :mod:`.suite_models`;
- :mod:`.peers`: the peer registry (how each library is found, installed and given threads);
- :mod:`.timing`: warm-up, timed series, interleaved rounds;
- :mod:`.ceilings`: FMA peak, OpenBLAS GEMM, copy bandwidth;
- :mod:`.runner`: checks every peer's result against kernelkit's, then times them all;
- :mod:`.memory`: the extra memory of one kernelkit call, in a fresh process;
- :mod:`.report`, :mod:`.schema`, :mod:`.terminal`, :mod:`.plots`: JSON, Markdown, the terminal
  tables and progress bar (rich), and matplotlib figures.

Examples
--------
>>> from kernelkit.bench import SUITES, PEER_NAMES
>>> sorted(SUITES)
['conv', 'filter', 'gram', 'models']
>>> PEER_NAMES[:3]
('numpy', 'scipy', 'sklearn')
"""

from __future__ import annotations

from .cases import SUITES, Case, Suite, register
from .command import add_bench_command, main
from .peers import PEER_NAMES, PEERS, Peer

__all__ = [
    "PEERS",
    "PEER_NAMES",
    "SUITES",
    "Case",
    "Peer",
    "Suite",
    "add_bench_command",
    "main",
    "register",
]
