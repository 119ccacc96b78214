// Prints one receipt through a virtual port with a Star client no one here wrote:
//   node star_clients.cjs encoder star-line|star-prnt HOST PORT TEXT
//   node star_clients.cjs thermal star HOST PORT TEXT
const net = require("net");
const [, , client, language, host, port, text] = process.argv;

async function main() {
  if (client === "encoder") {
    const ReceiptPrinterEncoder = require("@point-of-sale/receipt-printer-encoder");
    const encoder = new ReceiptPrinterEncoder({ language, columns: 48 });
    const bytes = encoder.initialize().codepage("auto").line(text).line("Crème brûlée — Żurek").cut().encode();
    await new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), host, () => socket.end(Buffer.from(bytes), resolve));
      socket.on("error", reject);
    });
  } else {
    const { ThermalPrinter, PrinterTypes } = require("node-thermal-printer");
    const printer = new ThermalPrinter({ type: PrinterTypes.STAR, interface: `tcp://${host}:${port}` });
    printer.println(text);
    printer.println("Bonjour");
    printer.cut();
    await printer.execute();
  }
  console.log("sent");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
