export { ChangePointDetector, detectChangePoints } from './change-point-detector.ts';
export { DEFAULT_DETECTOR_OPTIONS, detectorOptions, type DetectorOptions } from './detector-options.ts';
export { verdict, type ChangePoint, type Segment, type Verdict } from './change-point.ts';
export { worseWhen } from '../direction.ts';
