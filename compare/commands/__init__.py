"""One module per subcommand: `HELP` (one line), `add_arguments(parser)`, `run(args)`, and the
module docstring as the command's description. The modules parse flags and call; the work lives in
the rest of compare/."""

from compare.commands import bench, data, explain, gradcheck, lockstep, run, study, train

SUBCOMMANDS = [run, data, train, gradcheck, explain, lockstep, bench, study]
