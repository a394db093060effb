"""One module per subcommand; each has `register(subparsers)` and sets `func` to its runner."""

from compare.commands import bench, data, explain, gradcheck, lockstep, run, train

SUBCOMMANDS = [run, data, train, gradcheck, explain, lockstep, bench]
