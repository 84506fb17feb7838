import Foundation
import VeerServer

exit(VeerCommand.main(CommandLine.arguments))
