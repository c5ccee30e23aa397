from sqlml.cli.main import main

main()
