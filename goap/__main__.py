from goap.cli import main

main()
