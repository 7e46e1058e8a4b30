from nndoctor.cli.app import main

main()
