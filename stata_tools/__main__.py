from stata_tools.cli import main

main()
