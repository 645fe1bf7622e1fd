from dbshift.cli import main

main()
