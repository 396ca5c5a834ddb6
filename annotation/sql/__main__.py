import sys

from annotation.sql import main

sys.exit(main(sys.argv[1:]))
