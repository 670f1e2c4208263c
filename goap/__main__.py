from goap.faces.cli import main

main()
