import sys

from game.sql import main

sys.exit(main(sys.argv[1:]))
