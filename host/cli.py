"""The `espline` command."""

import argparse
import sys

from espline.sim import cli as model_cli


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="espline", description="espline: inline IPsec ESP cryptoprocessor")
    commands = parser.add_subparsers(dest="command", required=True)
    model_cli.add_parser(commands)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
