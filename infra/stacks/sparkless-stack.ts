import { Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { StateTable } from "../constructs/state-table.ts";

/** Assembles the constructs of a sparkless deployment; holds no logic of its own. */
export class SparklessStack extends Stack {
  readonly state: StateTable;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    this.state = new StateTable(this, "State");
  }
}
