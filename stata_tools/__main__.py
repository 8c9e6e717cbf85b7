from stata_tools.cli.main import main

main()
